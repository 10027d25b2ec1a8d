import { useMutation, useQueryClient } from '@tanstack/react-query';
import { request } from '@/api/client';
import { describeError, isApiError } from '@/api/errors';
import type { ContainerList, TransferCode } from '@/api/types';
import { containersKey, type ContainerListState } from '@/features/containers/api/containers';
import { rateLimitKey } from '@/features/quota/api/rate-limit';

/** A code as the server makes them: 10 characters with nothing to mistake, dash optional. */
const CODE_SHAPE = /^[2-9A-HJKMNP-TV-Z]{5}-?[2-9A-HJKMNP-TV-Z]{5}$/;

/** A code as typed (spaces, either case) in the form the server takes, or null if it cannot be one. */
export function cleanCode(typed: string): string | null {
  const code = typed.replace(/\s+/g, '').toUpperCase();
  return CODE_SHAPE.test(code) ? code : null;
}

export async function makeTransferCode(): Promise<TransferCode> {
  const res = await request<TransferCode>('/containers/transfer', { method: 'POST', notify: false });
  return res.data as TransferCode;
}

/** Exchanges a code for its owner: the answer sets this browser's owner cookie. */
export async function redeemTransferCode(code: string): Promise<ContainerList> {
  const res = await request<ContainerList>('/containers/transfer/redeem', { method: 'POST', body: { code }, notify: false });
  return res.data as ContainerList;
}

/** What to tell the visitor when a transfer call fails: the server's own words when it gave some. */
export function transferFailure(error: unknown): string {
  if (isApiError(error) && error.kind === 'http' && error.message) return error.message;
  return describeError(error).message;
}

/** The toast after a code was used: what this browser now has. */
export function carriedWords(count: number): string {
  if (count === 0) return 'This browser now shares its owner with the other one (no containers right now).';
  return `${count === 1 ? 'One container is' : `${count} containers are`} now yours in this browser too.`;
}

export function useMakeTransferCode() {
  const client = useQueryClient();
  return useMutation({
    mutationFn: makeTransferCode,
    onSettled: () => client.invalidateQueries({ queryKey: rateLimitKey }),
  });
}

export function useRedeemTransferCode() {
  const client = useQueryClient();
  return useMutation({
    mutationFn: redeemTransferCode,
    onSuccess: (list) => {
      // This browser is the other owner now: its list is theirs (no ETag: the next one is full).
      client.setQueryData<ContainerListState>(containersKey, { etag: null, containers: list.containers });
      return Promise.all([
        client.invalidateQueries({ queryKey: containersKey }),
        client.invalidateQueries({ queryKey: rateLimitKey }),
      ]);
    },
  });
}
