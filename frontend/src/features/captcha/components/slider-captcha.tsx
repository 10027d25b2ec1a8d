import { ArrowRight, Check, LoaderCircle, X } from 'lucide-react';
import { useCallback, useEffect, useRef, useState, type KeyboardEvent, type PointerEvent } from 'react';
import type { InputKind, TrackPoint } from '@/api/types';
import { cn } from '@/lib/cn';

export type SliderStatus = 'ready' | 'verifying' | 'passed' | 'failed';

export interface SliderSubmission {
  x: number;
  track: TrackPoint[];
  input: InputKind;
}

export interface SliderCaptchaProps {
  width: number;
  height: number;
  background: string;
  piece: string;
  pieceSize: number;
  pieceY: number;
  status: SliderStatus;
  onSubmit: (s: SliderSubmission) => void;
  /** Focus the handle when it appears (a fresh puzzle after a failure keeps keyboard users in place). */
  autoFocus?: boolean;
}

const round1 = (v: number) => Math.round(v * 10) / 10;

/**
 * The slider puzzle. The piece moves with the handle; x is the piece's left edge in the
 * image's own pixels (the image may be drawn smaller on narrow screens; we scale back).
 * Pointer: the track is every pointer move from down to up, then it submits on release.
 * Keyboard: arrows ±1 px, PgUp/PgDn ±10 px, Home/End, Enter submits; each key press is a point.
 */
export function SliderCaptcha({ width, height, background, piece, pieceSize, pieceY, status, onSubmit, autoFocus }: SliderCaptchaProps) {
  const max = Math.max(0, width - pieceSize);
  const [x, setX] = useState(0);
  const [dragging, setDragging] = useState(false);
  const xRef = useRef(0);
  const box = useRef<HTMLDivElement>(null);
  const track = useRef<TrackPoint[]>([]);
  const input = useRef<InputKind | null>(null);
  const drag = useRef<{ id: number; startClientX: number; startClientY: number; startX: number; t0: number; scale: number } | null>(null);
  const keyT0 = useRef(0);
  const interactive = status === 'ready';
  const handle = useRef<HTMLDivElement>(null);

  useEffect(() => {
    if (autoFocus) handle.current?.focus({ preventScroll: true });
  }, [autoFocus]);

  const move = useCallback(
    (next: number) => {
      const v = Math.min(max, Math.max(0, next));
      xRef.current = v;
      setX(v);
      return v;
    },
    [max],
  );

  const scaleNow = () => {
    const w = box.current?.getBoundingClientRect().width ?? 0;
    return w > 0 ? width / w : 1;
  };

  const onPointerDown = (e: PointerEvent<HTMLDivElement>) => {
    if (!interactive || (e.pointerType === 'mouse' && e.button !== 0)) return;
    e.preventDefault();
    try {
      e.currentTarget.setPointerCapture?.(e.pointerId);
    } catch {
      /* jsdom / synthetic pointers */
    }
    e.currentTarget.focus();
    const t0 = performance.now();
    drag.current = { id: e.pointerId, startClientX: e.clientX, startClientY: e.clientY, startX: xRef.current, t0, scale: scaleNow() };
    input.current = 'pointer';
    track.current = [{ x: round1(xRef.current), y: 0, t: 0 }];
    setDragging(true);
  };

  const onPointerMove = (e: PointerEvent<HTMLDivElement>) => {
    const d = drag.current;
    if (!d || e.pointerId !== d.id) return;
    const v = move(d.startX + (e.clientX - d.startClientX) * d.scale);
    track.current.push({
      x: round1(v),
      y: round1((e.clientY - d.startClientY) * d.scale),
      t: Math.round(performance.now() - d.t0),
    });
  };

  const endDrag = (e: PointerEvent<HTMLDivElement>, cancelled: boolean) => {
    const d = drag.current;
    if (!d || e.pointerId !== d.id) return;
    drag.current = null;
    setDragging(false);
    if (cancelled) {
      move(0);
      track.current = [];
      return;
    }
    const moved = track.current.length > 1 && Math.abs(xRef.current - d.startX) >= 1;
    if (moved) onSubmit({ x: Math.round(xRef.current), track: track.current.slice(), input: 'pointer' });
  };

  const onKeyDown = (e: KeyboardEvent<HTMLDivElement>) => {
    if (!interactive) return;
    let next: number | null = null;
    switch (e.key) {
      case 'ArrowRight':
      case 'ArrowUp':
        next = xRef.current + 1;
        break;
      case 'ArrowLeft':
      case 'ArrowDown':
        next = xRef.current - 1;
        break;
      case 'PageUp':
        next = xRef.current + 10;
        break;
      case 'PageDown':
        next = xRef.current - 10;
        break;
      case 'Home':
        next = 0;
        break;
      case 'End':
        next = max;
        break;
      case 'Enter':
        e.preventDefault();
        if (input.current === 'keyboard' && track.current.length) {
          onSubmit({ x: Math.round(xRef.current), track: track.current.slice(), input: 'keyboard' });
        }
        return;
      default:
        return;
    }
    e.preventDefault();
    const now = performance.now();
    if (input.current !== 'keyboard') {
      input.current = 'keyboard';
      track.current = [];
      keyT0.current = now;
    }
    const v = move(Math.round(next));
    track.current.push({ x: v, y: 0, t: Math.round(now - keyT0.current) });
  };

  const pct = (v: number) => `${(v / width) * 100}%`;
  const shown = status === 'failed' ? 0 : x;
  const valueNow = Math.round(x);

  return (
    <div className="mx-auto w-full max-w-[320px] select-none">
      <div
        ref={box}
        className={cn(
          'relative w-full overflow-hidden rounded-xl bg-slate-200 ring-1 ring-slate-900/10 dark:bg-slate-800 dark:ring-white/10',
          status === 'failed' && 'motion-safe:animate-shake',
        )}
        style={{ aspectRatio: `${width} / ${height}` }}
      >
        <img src={background} alt="" width={width} height={height} draggable={false} className="absolute inset-0 h-full w-full" />
        <img
          src={piece}
          alt=""
          draggable={false}
          className={cn(
            'absolute drop-shadow-[0_2px_4px_rgba(0,0,0,0.55)]',
            !dragging && status === 'ready' && 'transition-[left] duration-200 ease-out motion-reduce:transition-none',
          )}
          style={{ left: pct(shown), top: `${(pieceY / height) * 100}%`, width: pct(pieceSize) }}
        />
        {status !== 'ready' ? (
          <div
            className={cn(
              'absolute inset-0 flex items-center justify-center gap-2 text-sm font-semibold motion-safe:animate-fade-in',
              status === 'verifying' && 'bg-slate-950/35 text-white',
              status === 'passed' && 'bg-emerald-700/80 text-white',
              status === 'failed' && 'bg-red-700/80 text-white',
            )}
          >
            {status === 'verifying' ? <LoaderCircle className="h-5 w-5 animate-spin" aria-hidden /> : null}
            {status === 'passed' ? <Check className="h-5 w-5" aria-hidden /> : null}
            {status === 'failed' ? <X className="h-5 w-5" aria-hidden /> : null}
            <span>{status === 'verifying' ? 'Checking…' : status === 'passed' ? 'Verified' : 'Not quite. New puzzle…'}</span>
          </div>
        ) : null}
      </div>

      <div
        className={cn(
          'relative mt-3 h-12 w-full rounded-xl border bg-slate-100 dark:bg-slate-800/70',
          status === 'failed' ? 'border-red-300 dark:border-red-800' : 'border-slate-200 dark:border-slate-700',
        )}
      >
        <div
          aria-hidden
          className="absolute inset-y-0 left-0 rounded-l-xl bg-emerald-100 dark:bg-emerald-900/40"
          style={{ width: `calc(${pct(shown)} + 1.5rem)` }}
        />
        <span
          aria-hidden
          className={cn(
            'pointer-events-none absolute inset-0 flex items-center justify-center pl-12 text-sm text-slate-600 transition-opacity dark:text-slate-400',
            (x > 4 || dragging) && 'opacity-0',
          )}
        >
          Slide to fit the piece
        </span>
        <div
          ref={handle}
          role="slider"
          tabIndex={interactive ? 0 : -1}
          aria-label="Puzzle piece position"
          aria-valuemin={0}
          aria-valuemax={max}
          aria-valuenow={valueNow}
          aria-valuetext={`${valueNow} of ${max} pixels`}
          aria-disabled={!interactive || undefined}
          aria-describedby="slider-help"
          onPointerDown={onPointerDown}
          onPointerMove={onPointerMove}
          onPointerUp={(e) => endDrag(e, false)}
          onPointerCancel={(e) => endDrag(e, true)}
          onKeyDown={onKeyDown}
          className={cn(
            'absolute top-0 flex h-full min-w-[44px] touch-none items-center justify-center rounded-xl shadow-md outline-none',
            'focus-visible:ring-4 focus-visible:ring-emerald-500/40',
            interactive ? 'cursor-grab active:cursor-grabbing' : 'cursor-default',
            status === 'failed' ? 'bg-red-600 text-white' : status === 'passed' ? 'bg-emerald-600 text-white' : 'bg-emerald-700 text-white dark:bg-emerald-500 dark:text-emerald-950',
            !dragging && status === 'ready' && 'transition-[left] duration-200 ease-out motion-reduce:transition-none',
          )}
          style={{ left: pct(shown), width: pct(pieceSize) }}
        >
          {status === 'verifying' ? (
            <LoaderCircle className="h-5 w-5 animate-spin" aria-hidden />
          ) : status === 'passed' ? (
            <Check className="h-5 w-5" aria-hidden />
          ) : (
            <ArrowRight className="h-5 w-5" aria-hidden />
          )}
        </div>
      </div>
      <p id="slider-help" className="sr-only">
        Use the arrow keys to move the piece by one pixel, Page Up and Page Down by ten, Home and End to jump, and Enter to check.
      </p>
    </div>
  );
}
