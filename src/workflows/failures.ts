// The message a person should read from a failure, however deeply Temporal wrapped it.
import { ActivityFailure, ApplicationFailure, CancelledFailure } from '@temporalio/workflow';

export function failureMessage(e: unknown): string {
  if (e instanceof ActivityFailure) return failureMessage(e.cause ?? e);
  if (e instanceof CancelledFailure) return 'cancelled';
  if (e instanceof ApplicationFailure || e instanceof Error) return e.message;
  return String(e);
}
