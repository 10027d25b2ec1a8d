import { describe, expect, it } from 'vitest';
import { makeContainer } from '@/testing/fixtures';
import { stubFetch } from '@/testing/fetch-stub';
import { createContainer, listContainers } from './containers';

describe('listContainers (ETag / 304)', () => {
  it('sends If-None-Match with the last ETag and maps 304 to "unchanged"', async () => {
    const c = makeContainer();
    const { requests } = stubFetch(
      { status: 200, body: { containers: [c] }, headers: { ETag: '"abc"' } },
      { status: 304, headers: { ETag: '"abc"' } },
    );
    const first = await listContainers(null);
    expect(first).toEqual({ changed: true, etag: '"abc"', containers: [c] });
    expect(requests[0].headers['If-None-Match']).toBeUndefined();

    const second = await listContainers('"abc"');
    expect(second).toEqual({ changed: false, etag: '"abc"' });
    expect(requests[1]).toMatchObject({ url: '/containers', method: 'GET' });
    expect(requests[1].headers['If-None-Match']).toBe('"abc"');
  });

  it('keeps the old ETag if a 304 does not repeat it', async () => {
    stubFetch({ status: 304 });
    expect(await listContainers('"x"')).toEqual({ changed: false, etag: '"x"' });
  });
});

describe('createContainer', () => {
  it('posts the template and the pass token with same-origin credentials', async () => {
    const c = makeContainer({ id: 'new' });
    const { fn, requests } = stubFetch({ status: 202, body: c, headers: { Location: '/containers/new' } });
    expect(await createContainer('nginx', 'tok')).toEqual(c);
    expect(requests[0]).toMatchObject({ url: '/containers', method: 'POST', body: { template: 'nginx', captcha_token: 'tok' } });
    expect(fn.mock.calls[0][1]).toMatchObject({ credentials: 'same-origin' });
  });
});
