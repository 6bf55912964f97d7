/**
 * Runs one (re)start at a time and merges the requests that arrive meanwhile into a single
 * follow-up run, so a burst of settings events costs at most one extra restart.
 */
export class RestartQueue {
  private current: Promise<void> | undefined;
  private next: { force: boolean; promise: Promise<void> } | undefined;

  constructor(private readonly task: (force: boolean) => Promise<void>) {}

  request(force = false): Promise<void> {
    if (!this.current) {
      this.current = this.start(force);
      return this.current;
    }
    if (this.next) {
      this.next.force ||= force;
      return this.next.promise;
    }
    const entry = { force, promise: Promise.resolve() };
    entry.promise = this.current
      .catch(() => undefined)
      .then(() => {
        this.next = undefined;
        this.current = this.start(entry.force);
        return this.current;
      });
    this.next = entry;
    return entry.promise;
  }

  /** Resolves once no (re)start is running or queued. */
  async idle(): Promise<void> {
    while (this.current || this.next) {
      await (this.next?.promise ?? this.current)?.catch(() => undefined);
    }
  }

  private start(force: boolean): Promise<void> {
    const run: Promise<void> = this.task(force).finally(() => {
      if (this.current === run) this.current = undefined;
    });
    return run;
  }
}
