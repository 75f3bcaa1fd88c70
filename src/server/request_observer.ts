/**
 * The seam between the network surfaces (RESP, HTTP) and metrics: each
 * surface reports every request it served; `metrics.ts` turns the reports
 * into Prometheus series. A surface built without an observer reports nothing.
 */

/** Which surface served a request. */
export type Surface = 'resp' | 'http';

/** Receives one report per request served. */
export interface RequestObserver {
  /** `command` is the upper-case command (RESP) or route name (HTTP); `seconds` is the service time. */
  request(surface: Surface, command: string, seconds: number, outcome: 'ok' | 'error'): void;
  /**
   * A plain Redis read (RESP GET, MGET, SET ... GET) answered one value of a
   * key that holds siblings, hiding the others (`pickSibling`). Optional: a
   * surface that never hides siblings does not call it.
   */
  getHidSiblings?(): void;
}
