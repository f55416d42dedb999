// What every view gets from the shell: what the signed-in role may do, and
// one way to report a failure (a 401 signs the user out with the reason).

export interface Capabilities {
  /** events: the role may open an event behind a figure (auditors). */
  events: boolean;
  /** projections: the role may see and rebuild the read models (admins). */
  projections: boolean;
}

export interface View {
  el: HTMLElement;
  /** dispose stops the view's timers and observers. */
  dispose(): void;
}

export interface App {
  caps: Capabilities;
  /** fail handles an error a view could not: 401 → the sign-in form. */
  fail(err: unknown): void;
}

/** mark records a moment for the browser test's timings (Performance API). */
export function mark(name: string): void {
  try {
    performance.mark("casebook:" + name);
  } catch {
    /* no Performance API: nothing to record */
  }
}
