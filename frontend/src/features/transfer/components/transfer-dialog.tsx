import { KeyRound, ShieldAlert } from 'lucide-react';
import { useEffect, useId, useState, type FormEvent } from 'react';
import { Button } from '@/components/ui/button';
import { CopyButton } from '@/components/ui/copy-button';
import { Dialog } from '@/components/ui/dialog';
import { Spinner } from '@/components/ui/spinner';
import { serverNowSeconds } from '@/lib/clock';
import { formatDurationWords, formatTimeOfDay } from '@/lib/time';
import { notify } from '@/stores/notifications';
import { carriedWords, cleanCode, transferFailure, useMakeTransferCode, useRedeemTransferCode } from '../api/transfer';

export type TransferMode = 'give' | 'take';

export interface TransferDialogProps {
  mode: TransferMode;
  onClose: () => void;
}

/**
 * `give`: makes a one-time code for this browser's containers and shows it as a link and as
 * a code to type. `take`: the other device types a code it was given.
 */
export function TransferDialog({ mode, onClose }: TransferDialogProps) {
  return mode === 'give' ? <GiveDialog onClose={onClose} /> : <TakeDialog onClose={onClose} />;
}

function GiveDialog({ onClose }: { onClose: () => void }) {
  const make = useMakeTransferCode();
  const { mutate } = make;
  useEffect(() => mutate(), [mutate]);
  const made = make.data;
  const link = made ? new URL(made.link, window.location.origin).href : '';
  const lasts = made ? Math.max(0, Math.round(made.expires_at - serverNowSeconds())) : 0;

  return (
    <Dialog
      open
      onClose={onClose}
      title="Use on another device"
      description="Open this link on your phone or another browser, or type the code there on this page. Your containers then show up on both."
    >
      {make.isPending ? (
        <p className="flex items-center gap-2 text-sm text-slate-600 dark:text-slate-400" role="status">
          <Spinner className="h-4 w-4" /> Making a one-time code…
        </p>
      ) : made ? (
        <div className="space-y-4">
          <Shown label="Link" value={link} copyLabel="Copy link" className="text-sm" />
          <Shown label="Code" value={made.code} copyLabel="Copy code" className="text-2xl font-semibold tracking-[0.2em]" />
          <p className="text-sm text-slate-600 dark:text-slate-400">
            It works once, for {formatDurationWords(lasts)} (until {formatTimeOfDay(Date.now() + lasts * 1000)}).
          </p>
          <p className="flex gap-2 rounded-xl bg-amber-50 px-3 py-2 text-sm text-amber-900 dark:bg-amber-400/10 dark:text-amber-200">
            <ShieldAlert className="mt-0.5 h-4 w-4 shrink-0" aria-hidden />
            Whoever uses it can see and delete your containers. Share it only with yourself.
          </p>
        </div>
      ) : make.isError ? (
        <p role="alert" className="text-sm text-red-800 dark:text-red-300">
          Could not make a code. {transferFailure(make.error)}
        </p>
      ) : null}
      <div className="mt-5 flex justify-end">
        <Button variant="secondary" onClick={onClose}>
          Done
        </Button>
      </div>
    </Dialog>
  );
}

function TakeDialog({ onClose }: { onClose: () => void }) {
  const redeem = useRedeemTransferCode();
  const [typed, setTyped] = useState('');
  const [problem, setProblem] = useState<string | null>(null);
  const inputId = useId();
  const problemId = useId();

  const submit = (e: FormEvent) => {
    e.preventDefault();
    const code = cleanCode(typed);
    if (!code) {
      setProblem('A code is ten letters and digits, like K7M2Q-XP4RT.');
      return;
    }
    setProblem(null);
    redeem.mutate(code, {
      onSuccess: (list) => {
        notify({ tone: 'success', title: 'Containers carried over', message: carriedWords(list.containers.length) });
        onClose();
      },
      onError: (error) => setProblem(transferFailure(error)),
    });
  };

  return (
    <Dialog
      open
      onClose={onClose}
      locked={redeem.isPending}
      title="Use a code from another device"
      description="On the device that has your containers, choose “Use on another device” and type its code here."
      initialFocusSelector="input"
    >
      <form onSubmit={submit} noValidate>
        <label htmlFor={inputId} className="text-sm font-medium text-slate-700 dark:text-slate-300">
          Transfer code
        </label>
        <input
          id={inputId}
          value={typed}
          onChange={(e) => setTyped(e.target.value)}
          autoComplete="one-time-code"
          autoCapitalize="characters"
          spellCheck={false}
          placeholder="K7M2Q-XP4RT"
          aria-invalid={problem ? true : undefined}
          aria-describedby={problem ? problemId : undefined}
          className="mt-1 block h-11 w-full rounded-xl border border-slate-300 bg-white px-3 font-mono text-lg uppercase tracking-[0.15em] text-slate-900 placeholder:text-slate-400 focus-visible:outline focus-visible:outline-2 focus-visible:outline-emerald-600 dark:border-slate-700 dark:bg-slate-900 dark:text-white dark:placeholder:text-slate-500"
        />
        {problem ? (
          <p id={problemId} role="alert" className="mt-2 text-sm text-red-800 dark:text-red-300">
            {problem}
          </p>
        ) : null}
        <p className="mt-2 text-sm text-slate-600 dark:text-slate-400">The containers of this browser, if any, stay where they are but are no longer listed here.</p>
        <div className="mt-5 flex flex-col-reverse gap-2 sm:flex-row sm:justify-end">
          <Button variant="secondary" onClick={onClose} disabled={redeem.isPending}>
            Cancel
          </Button>
          <Button type="submit" loading={redeem.isPending} icon={<KeyRound className="h-4 w-4" aria-hidden />}>
            Use code
          </Button>
        </div>
      </form>
    </Dialog>
  );
}

/** A value to read or copy: a read-only field (selectable by hand) with its copy button. */
function Shown({ label, value, copyLabel, className }: { label: string; value: string; copyLabel: string; className: string }) {
  const id = useId();
  return (
    <div>
      <label htmlFor={id} className="text-sm font-medium text-slate-700 dark:text-slate-300">
        {label}
      </label>
      <div className="mt-1 flex items-center gap-2 rounded-xl bg-slate-100 py-1 pl-3 pr-1 dark:bg-slate-800">
        <input
          id={id}
          readOnly
          value={value}
          onFocus={(e) => e.currentTarget.select()}
          className={`min-w-0 flex-1 bg-transparent font-mono text-slate-900 outline-none dark:text-white ${className}`}
        />
        <CopyButton text={value} label={copyLabel} />
      </div>
    </div>
  );
}
