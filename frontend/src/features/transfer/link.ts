/** The query parameter of a transfer link (`/?transfer=<code>`). */
export const TRANSFER_PARAM = 'transfer';

/** Whether the page was opened with a transfer link. */
export function openedWithTransferLink(): boolean {
  return typeof window !== 'undefined' && new URLSearchParams(window.location.search).has(TRANSFER_PARAM);
}
