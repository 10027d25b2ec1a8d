import { useCallback, useEffect, useState } from 'react';
import type { Template } from '@/api/types';
import { getTemplates } from '../api/containers';

export interface TemplatesState {
  templates: Template[];
  simulated: boolean | null;
  /** seconds a container lives, when the server says */
  lifetime: number | null;
  status: 'loading' | 'ready' | 'error';
  retry(): void;
}

export function useTemplates(load = getTemplates): TemplatesState {
  const [state, setState] = useState<Omit<TemplatesState, 'retry'>>({ templates: [], simulated: null, lifetime: null, status: 'loading' });
  const [attempt, setAttempt] = useState(0);
  useEffect(() => {
    const ac = new AbortController();
    setState((s) => ({ ...s, status: 'loading' }));
    load({ signal: ac.signal, notify: 'templates' })
      .then((r) => setState({ templates: r.templates, simulated: r.cluster?.simulated ?? null, lifetime: r.lifetime ?? null, status: 'ready' }))
      .catch(() => !ac.signal.aborted && setState((s) => ({ ...s, status: 'error' })));
    return () => ac.abort();
  }, [load, attempt]);
  const retry = useCallback(() => setAttempt((a) => a + 1), []);
  return { ...state, retry };
}
