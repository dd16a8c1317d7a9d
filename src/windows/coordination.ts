/**
 * What a window needs from the other nodes when several front the same data. The coordinator
 * implements it (coordinator/shared-windows.ts); windows/ only calls it, as the proxy calls the
 * gate without knowing windows.
 */
import type { ReleaseRule, WindowMode } from './window.js';

/** One window as every node sees it. */
export interface SharedWindow {
  /** Unique per run and group: run:<runId>:<group>. */
  key: string;
  runId: string;
  group: string;
  partitions: readonly string[];
  mode: WindowMode;
  release: ReleaseRule;
  budgetMs: number;
}

export interface WindowCoordination {
  /**
   * Announce the window to every live node before this node (the runner) holds. Returns the
   * budget the runner may use: less than the window's, so that it has released before any other
   * node's clock says the budget is over.
   */
  open(w: SharedWindow): Promise<number>;
  /** This node drained: resolve when every other live node has acknowledged HOLDING+DRAINED. */
  othersDrained(key: string, signal: AbortSignal): Promise<void>;
  /**
   * Tell the others the window released (after the cut) or aborted. Resolves false when the
   * window had already been aborted by another node: then it is no cut.
   */
  end(key: string, outcome: 'released' | 'aborted', reason: string | null): Promise<boolean>;
}

export const sharedWindowKey = (runId: string, group: string): string => `run:${runId}:${group}`;
