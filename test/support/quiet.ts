// Workers created inside test processes log at WARN, so test output stays readable.
import { DefaultLogger, Runtime } from '@temporalio/worker';

try {
  Runtime.install({ logger: new DefaultLogger('WARN') });
} catch {
  /* already installed by another test file in this process */
}
