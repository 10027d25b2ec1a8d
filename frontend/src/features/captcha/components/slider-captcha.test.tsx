import { fireEvent, render, screen } from '@testing-library/react';
import { describe, expect, it, vi } from 'vitest';
import { SliderCaptcha, type SliderCaptchaProps } from './slider-captcha';

/** A clock we move by hand (React also reads performance.now, so counting calls is unreliable). */
function manualClock(start = 1000) {
  const clock = { t: start };
  vi.spyOn(performance, 'now').mockImplementation(() => clock.t);
  return clock;
}

function setup(over: Partial<SliderCaptchaProps> = {}) {
  const onSubmit = vi.fn();
  const props: SliderCaptchaProps = {
    width: 320,
    height: 160,
    background: 'data:image/jpeg;base64,AA',
    piece: 'data:image/png;base64,AA',
    pieceSize: 60,
    pieceY: 50,
    status: 'ready',
    onSubmit,
    ...over,
  };
  const utils = render(<SliderCaptcha {...props} />);
  return { ...utils, onSubmit, slider: screen.getByRole('slider', { name: 'Puzzle piece position' }) };
}

describe('SliderCaptcha: pointer', () => {
  it('records the drag track and submits the piece offset in image pixels', () => {
    const clock = manualClock(1000);
    const { slider, onSubmit } = setup();
    fireEvent.pointerDown(slider, { pointerId: 7, clientX: 20, clientY: 100, button: 0, pointerType: 'mouse' });
    clock.t = 1016;
    fireEvent.pointerMove(slider, { pointerId: 7, clientX: 60, clientY: 101 });
    clock.t = 1033;
    fireEvent.pointerMove(slider, { pointerId: 7, clientX: 120, clientY: 103 });
    clock.t = 1050;
    fireEvent.pointerMove(slider, { pointerId: 7, clientX: 167, clientY: 102 });
    expect(slider).toHaveAttribute('aria-valuenow', '147');
    fireEvent.pointerUp(slider, { pointerId: 7, clientX: 167, clientY: 102 });

    expect(onSubmit).toHaveBeenCalledTimes(1);
    const { x, track, input } = onSubmit.mock.calls[0][0];
    expect(input).toBe('pointer');
    expect(x).toBe(147);
    expect(track).toEqual([
      { x: 0, y: 0, t: 0 },
      { x: 40, y: 1, t: 16 },
      { x: 100, y: 3, t: 33 },
      { x: 147, y: 2, t: 50 },
    ]);
  });

  it('scales CSS pixels back to image pixels when the puzzle is drawn smaller', () => {
    const { slider, onSubmit, container } = setup();
    const box = container.firstElementChild!.firstElementChild as HTMLDivElement; // the image box
    vi.spyOn(box, 'getBoundingClientRect').mockReturnValue({ width: 160 } as DOMRect);
    fireEvent.pointerDown(slider, { pointerId: 1, clientX: 10, clientY: 0, button: 0 });
    fireEvent.pointerMove(slider, { pointerId: 1, clientX: 60, clientY: 5 });
    fireEvent.pointerUp(slider, { pointerId: 1, clientX: 60, clientY: 5 });
    const { x, track } = onSubmit.mock.calls[0][0];
    expect(x).toBe(100); // 50 CSS px at half size = 100 image px
    expect(track[1]).toMatchObject({ x: 100, y: 10 });
  });

  it('clamps to the image and ignores a click without movement', () => {
    const { slider, onSubmit } = setup();
    fireEvent.pointerDown(slider, { pointerId: 1, clientX: 10, clientY: 0, button: 0 });
    fireEvent.pointerMove(slider, { pointerId: 1, clientX: 900, clientY: 0 });
    expect(slider).toHaveAttribute('aria-valuenow', '260'); // 320 - 60
    fireEvent.pointerMove(slider, { pointerId: 1, clientX: -900, clientY: 0 });
    expect(slider).toHaveAttribute('aria-valuenow', '0');
    fireEvent.pointerUp(slider, { pointerId: 1, clientX: -900, clientY: 0 });
    expect(onSubmit).not.toHaveBeenCalled();
  });

  it('a cancelled pointer resets the piece and submits nothing', () => {
    const { slider, onSubmit } = setup();
    fireEvent.pointerDown(slider, { pointerId: 1, clientX: 0, clientY: 0, button: 0 });
    fireEvent.pointerMove(slider, { pointerId: 1, clientX: 80, clientY: 0 });
    fireEvent.pointerCancel(slider, { pointerId: 1 });
    expect(slider).toHaveAttribute('aria-valuenow', '0');
    expect(onSubmit).not.toHaveBeenCalled();
  });
});

describe('SliderCaptcha: keyboard', () => {
  it('has slider semantics with min, max, now and a readable value', () => {
    const { slider } = setup();
    expect(slider).toHaveAttribute('aria-valuemin', '0');
    expect(slider).toHaveAttribute('aria-valuemax', '260');
    expect(slider).toHaveAttribute('aria-valuenow', '0');
    expect(slider).toHaveAttribute('aria-valuetext', '0 of 260 pixels');
    expect(slider).toHaveAttribute('tabindex', '0');
  });

  it('moves 1 px with arrows, 10 px with PgUp/PgDn, jumps with Home/End, submits with Enter', () => {
    const clock = manualClock(5000);
    const { slider, onSubmit } = setup();
    const press = (key: string) => {
      clock.t += 180;
      fireEvent.keyDown(slider, { key });
    };
    const now = () => slider.getAttribute('aria-valuenow');

    press('ArrowRight');
    expect(now()).toBe('1');
    press('PageUp');
    press('PageUp');
    expect(now()).toBe('21');
    press('ArrowLeft');
    expect(now()).toBe('20');
    press('PageDown');
    expect(now()).toBe('10');
    press('ArrowUp');
    expect(now()).toBe('11');
    press('ArrowDown');
    expect(now()).toBe('10');
    press('End');
    expect(now()).toBe('260');
    expect(slider).toHaveAttribute('aria-valuetext', '260 of 260 pixels');
    press('PageUp'); // clamped at max
    expect(now()).toBe('260');
    press('Home');
    expect(now()).toBe('0');
    press('PageDown'); // clamped at min
    expect(now()).toBe('0');
    for (let i = 0; i < 12; i++) press('PageUp');
    press('ArrowLeft');
    expect(now()).toBe('119');
    expect(onSubmit).not.toHaveBeenCalled();

    press('Enter');
    expect(onSubmit).toHaveBeenCalledTimes(1);
    const { x, track, input } = onSubmit.mock.calls[0][0];
    expect(input).toBe('keyboard');
    expect(x).toBe(119);
    // one point per key press, y always 0, t from the first key press at the key rate
    expect(track).toHaveLength(24);
    expect(track[0]).toEqual({ x: 1, y: 0, t: 0 });
    expect(track[1]).toEqual({ x: 11, y: 0, t: 180 });
    expect(track.at(-1)).toEqual({ x: 119, y: 0, t: 23 * 180 });
    expect(track.every((p: { y: number }) => p.y === 0)).toBe(true);
  });

  it('Enter before any move does not submit', () => {
    const { slider, onSubmit } = setup();
    fireEvent.keyDown(slider, { key: 'Enter' });
    expect(onSubmit).not.toHaveBeenCalled();
  });

  it('is inert while the answer is being checked', () => {
    const { slider, onSubmit } = setup({ status: 'verifying' });
    expect(slider).toHaveAttribute('aria-disabled', 'true');
    expect(slider).toHaveAttribute('tabindex', '-1');
    fireEvent.keyDown(slider, { key: 'End' });
    fireEvent.keyDown(slider, { key: 'Enter' });
    expect(slider).toHaveAttribute('aria-valuenow', '0');
    expect(onSubmit).not.toHaveBeenCalled();
    expect(screen.getByText('Checking…')).toBeInTheDocument();
  });
});

describe('SliderCaptcha: focus', () => {
  it('takes focus when asked, so a fresh puzzle keeps keyboard users on the handle', () => {
    const { slider } = setup({ autoFocus: true });
    expect(slider).toHaveFocus();
  });
});
