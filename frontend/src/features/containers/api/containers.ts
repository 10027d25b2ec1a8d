import { queryOptions, useQuery } from '@tanstack/react-query';
import { useEffect } from 'react';
import { request, type RequestOptions } from '@/api/client';
import type { Container, TemplatesResponse } from '@/api/types';
import { config } from '@/config/env';
import { dismiss, notifyError } from '@/stores/notifications';

export const containersKey = ['containers'] as const;
export const templatesKey = ['templates'] as const;
const POLL_KEY = 'containers-poll';

/** The list as last answered, with its ETag: a poll that gets 304 keeps the very same object. */
export interface ContainerListState {
  containers: Container[];
  etag: string | null;
}

export type ListResult =
  | { changed: false; etag: string | null }
  | { changed: true; etag: string | null; containers: Container[] };

/** GET /containers with If-None-Match; a 304 means "same as your copy". */
export async function listContainers(etag: string | null, opts: Pick<RequestOptions, 'signal' | 'notify'> = {}): Promise<ListResult> {
  const res = await request<{ containers: Container[] }>('/containers', {
    ...opts,
    headers: etag ? { 'If-None-Match': etag } : {},
  });
  const nextEtag = res.headers.get('ETag') ?? null;
  if (res.status === 304) return { changed: false, etag: nextEtag ?? etag };
  return { changed: true, etag: nextEtag, containers: res.data?.containers ?? [] };
}

export async function createContainer(template: string, captchaToken: string): Promise<Container> {
  const res = await request<Container>('/containers', {
    method: 'POST',
    body: { template, captcha_token: captchaToken },
  });
  return res.data as Container;
}

export async function deleteContainer(id: string): Promise<Container> {
  const res = await request<Container>(`/containers/${encodeURIComponent(id)}`, { method: 'DELETE' });
  return res.data as Container;
}

export async function getTemplates(opts: Pick<RequestOptions, 'signal' | 'notify'> = {}): Promise<TemplatesResponse | null> {
  const res = await request<TemplatesResponse>('/containers/templates', opts);
  return res.data;
}

/** Anything still moving (pending, deleting) is polled fast: the visitor is watching it. */
export function isBusy(containers: Container[] | undefined): boolean {
  return !!containers?.some((c) => c.state === 'pending' || c.state === 'deleting');
}

/**
 * The caller's containers, polled with ETag / If-None-Match so an unchanged list costs the server
 * a 304 and no body: every pollFastMs while anything moves, every pollSlowMs otherwise. Failed
 * polls are retried with back-off (forever: the list is the page's pulse).
 */
export const containersQuery = queryOptions({
  queryKey: containersKey,
  queryFn: async ({ client, signal }): Promise<ContainerListState> => {
    const known = client.getQueryData<ContainerListState>(containersKey);
    const result = await listContainers(known?.etag ?? null, { signal, notify: false });
    dismiss(POLL_KEY); // the server answers again
    if (!result.changed) return known ?? { containers: [], etag: null };
    return { containers: result.containers, etag: result.etag };
  },
  refetchInterval: (q) => (isBusy(q.state.data?.containers) ? config.pollFastMs : config.pollSlowMs),
  // Fresh for one fast interval: a list that just came in is not asked for again on mount.
  staleTime: config.pollFastMs,
  retry: true,
});

/** The list, or null before the first answer. A failing poll is reported from the second failure on. */
export function useContainers() {
  const { data, failureCount, failureReason } = useQuery(containersQuery);
  useEffect(() => {
    if (failureCount >= 2) notifyError(failureReason, POLL_KEY);
  }, [failureCount, failureReason]);
  return data?.containers ?? null;
}

export interface TemplatesState {
  templates: TemplatesResponse['templates'];
  simulated: boolean | null;
  /** seconds a container lives, when the server says */
  lifetime: number | null;
  status: 'loading' | 'ready' | 'error';
  retry(): void;
}

/** The offered templates: asked once; a failure shows a retry button rather than retrying. */
export const templatesQuery = queryOptions({
  queryKey: templatesKey,
  queryFn: ({ signal }) => getTemplates({ signal, notify: 'templates' }),
  staleTime: Infinity,
  retry: false,
});

export function useTemplates(): TemplatesState {
  const query = useQuery(templatesQuery);
  const data = query.data;
  return {
    templates: data?.templates ?? [],
    simulated: data?.cluster?.simulated ?? null,
    lifetime: data?.lifetime ?? null,
    status: data ? 'ready' : query.isError && !query.isFetching ? 'error' : 'loading',
    retry: () => void query.refetch(),
  };
}
