// Activities registered by the worker: the thin effectful steps the workflows call.
export function createActivities() {
  return {};
}
