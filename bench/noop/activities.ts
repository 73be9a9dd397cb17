/** The no-op floor's one activity: returns its argument. */
export function createNoopActivities() {
  return {
    // eslint-disable-next-line @typescript-eslint/require-await
    async noop(index: number): Promise<number> {
      return index;
    },
  };
}

export type NoopActivities = ReturnType<typeof createNoopActivities>;
