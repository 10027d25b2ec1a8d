import { request, type RequestOptions } from '@/api/client';
import type { Container, TemplatesResponse } from '@/api/types';

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

export async function getTemplates(opts: Pick<RequestOptions, 'signal' | 'notify'> = {}): Promise<TemplatesResponse> {
  const res = await request<TemplatesResponse>('/containers/templates', opts);
  return res.data ?? { templates: [] };
}
