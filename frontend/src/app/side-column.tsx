import { QuotaPanel } from '@/features/quota/components/quota-panel';

/** What the right column holds under the list on a desktop (after the list and Create on a phone):
 * the quota story. A chunk of its own, asked for with the first screen's answers. */
export function SideColumn() {
  return (
    <div className="space-y-6">
      <QuotaPanel />
    </div>
  );
}
