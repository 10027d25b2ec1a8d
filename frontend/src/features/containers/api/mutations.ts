import { useMutation, useQueryClient, type QueryClient } from '@tanstack/react-query';
import type { Container } from '@/api/types';
import { rateLimitKey } from '@/features/quota/api/rate-limit';
import { notify } from '@/stores/notifications';
import { noteCreateError } from '../cooldown';
import { containersKey, createContainer, deleteContainer, type ContainerListState } from './containers';

// Create and delete: used from the dialogs, which are chunks loaded on first use.

/** Put a record the server just returned in place, then ask for the whole list again. */
function upsert(client: QueryClient, c: Container): Promise<void> {
  client.setQueryData<ContainerListState>(containersKey, (known) => ({
    // No ETag: the next answer must be the full list, never a 304 against the old one.
    etag: null,
    containers: [c, ...(known?.containers ?? []).filter((x) => x.id !== c.id)],
  }));
  // Abandons a poll in flight, so a stale answer never overwrites the record just put in.
  return client.invalidateQueries({ queryKey: containersKey });
}

export function useCreateContainer() {
  const client = useQueryClient();
  return useMutation({
    mutationFn: ({ template, token }: { template: string; token: string }) => createContainer(template, token),
    onSuccess: (record) => upsert(client, record),
    onError: noteCreateError, // the error itself is already shown by the API client
    onSettled: () => client.invalidateQueries({ queryKey: rateLimitKey }),
  });
}

export function useDeleteContainer() {
  const client = useQueryClient();
  return useMutation({
    mutationFn: (id: string) => deleteContainer(id),
    onSuccess: (record) => {
      notify({ tone: 'success', title: 'Container deleted', message: `${record.id} is stopping; its address no longer works.` });
      return upsert(client, record);
    },
    // e.g. 404 (already gone): the list is out of date; the error is already shown.
    onError: () => client.invalidateQueries({ queryKey: containersKey }),
    onSettled: () => client.invalidateQueries({ queryKey: rateLimitKey }),
  });
}
