import { useEffect } from 'react';
import { notify } from '@/stores/notifications';
import { carriedWords, cleanCode, transferFailure, useRedeemTransferCode } from '../api/transfer';
import { TRANSFER_PARAM } from '../link';

/**
 * Redeems the code of a transfer link once, as the page opens, and says how it went. The
 * parameter leaves the address at once, so a reload or a bookmark never tries a used code again.
 */
export function RedeemLink() {
  const { mutate } = useRedeemTransferCode();
  useEffect(() => {
    const url = new URL(window.location.href);
    const typed = url.searchParams.get(TRANSFER_PARAM);
    if (typed === null) return;
    url.searchParams.delete(TRANSFER_PARAM);
    window.history.replaceState(window.history.state, '', `${url.pathname}${url.search}${url.hash}`);
    const code = cleanCode(typed);
    if (!code) {
      notify({ tone: 'error', title: 'Transfer link not valid', message: 'This link has no usable code. Make a new one on the device that has the containers.' });
      return;
    }
    mutate(code, {
      onSuccess: (list) => notify({ tone: 'success', title: 'Containers carried over', message: carriedWords(list.containers.length) }),
      onError: (error) => notify({ tone: 'error', title: 'Transfer link not used', message: transferFailure(error), timeout: 0 }),
    });
  }, [mutate]);
  return null;
}
