// Failures no retry can cure: bad input, a host key nobody vouched for, a host or cluster
// in a state only an operator can fix. Activities throw errors of these names (or
// ApplicationFailures of these types) and the workflows' retry policies list them, so no
// call site has to rewrap an error to stop the retries. Pure: workflows import it.
export const NON_RETRYABLE_ERRORS = [
  'InventoryError',
  'LocalFileError',
  'SecretError',
  'HostKeyError',
  'UnsafeHostPath',
  'ArtifactError',
  'OverrideConflict',
  'EtcdConflict',
  'EtcdAuthError',
  'LoginRefused',
  'NotDeployed',
  'PreflightFailed',
  'ProofFailed',
  'VerificationRunning',
  'BackupRunning',
  'ClusterBusy',
] as const;
