// The api7-ha command line: start, follow, query and schedule the workflows, and run
// the embedded Temporal server and the worker.
// Commands load lazily: --help and --version stay fast. The test lab's commands (`lab ...`,
// and `up`, which deploys onto the lab) have their own entry points under lab/, run as
// separate processes: the product's modules never import the lab.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { Option, type Command } from 'commander';
import { float, int, newProgram, runProgram } from './cli/program';
import { DEFAULT_CODEC_PORT } from './temporal/server';
import { projectRoot } from './paths';

const deployCli = () => import('./cli/deploy.js');
/** The lab's entry points (lab/cli.ts, lab/up.ts), built beside the product. */
const labEntry = (name: string) => path.join(projectRoot, 'dist', 'lab', `${name}.js`);

export const version = (): string =>
  (JSON.parse(readFileSync(path.join(projectRoot, 'package.json'), 'utf8')) as { version: string })
    .version;

export function buildProgram(): Command {
  const program = newProgram(
    'api7-ha',
    'Deploy API7 Enterprise in high availability over SSH with Temporal, and prove it stays available.',
  ).version(version());

  program.command(
    'up',
    'the main job on the embedded default: dev server, lab, worker, then deploy the lab (needs root)',
    { executableFile: labEntry('up') },
  );

  program
    .command('server')
    .description(
      'run the embedded Temporal dev server (gRPC :7233, Web UI :8233, history in .data/temporal.db)',
    )
    .option('--detach', 'run in the background and return once it answers')
    .option('--stop', 'stop a background server')
    .option('--db-file <path>', 'SQLite file that keeps history across restarts')
    .option('--ip <address>', 'address to listen on', '127.0.0.1')
    .option('--port <port>', 'gRPC port', int('--port'), 7233)
    .option('--ui-port <port>', 'Web UI port (default: the gRPC port + 1000)', int('--ui-port'))
    .option(
      '--codec-port <port>',
      'loopback port of the codec server the Web UI decodes payloads with',
      int('--codec-port'),
      DEFAULT_CODEC_PORT,
    )
    .action(async (o) => {
      const { startServer, stopServer } = await import('./cli/server.js');
      return o.stop
        ? stopServer()
        : startServer({
            detach: o.detach,
            dbFile: o.dbFile,
            ip: o.ip,
            port: o.port,
            uiPort: o.uiPort,
            codecPort: o.codecPort,
          });
    });

  program
    .command('worker')
    .description(
      'run a worker on task queue api7-ha (connection from TEMPORAL_* variables or temporal.toml)',
    )
    .option('--detach', 'run in the background')
    .option('--stop', 'stop a background worker')
    .action(async (o) => (await import('./cli/worker.js')).workerCommand(o));

  program
    .command('deploy')
    .description('deploy the cluster an inventory describes (workflow deploy-<cluster>)')
    .requiredOption('-i, --inventory <file>', 'inventory YAML')
    .option('-f, --follow', 'show live per-host progress and wait for the result')
    .option(
      '--replace-etcd',
      'replace an etcd container whose settings differ (keeps its data directory)',
    )
    .option(
      '--no-backup',
      'do not back etcd up first when the deploy changes a dashboard or gateway bundle version',
    )
    .action(async (o) => void (await (await deployCli()).deployCommand(o)));
  program
    .command('replace')
    .description(
      'bring back a lost or moved host as the inventory names it now: swaps its etcd member one at a time, never below quorum, then deploys (workflow replace-<cluster>; docs/day2.md)',
    )
    .requiredOption('-i, --inventory <file>', 'inventory YAML')
    .requiredOption('--host <name>', 'the host to replace, by its inventory name')
    .option('-f, --follow', 'show live per-host progress and wait for the result')
    .option('--plan', 'print the steps it would take, touching nothing')
    .option('--json', 'with --plan: machine-readable output')
    .action(async (o) => void (await (await import('./cli/replace.js')).replaceCommand(o)));
  program
    .command('plan')
    .description(
      'print per host every command and file a deploy would run or write; touches nothing',
    )
    .requiredOption('-i, --inventory <file>', 'inventory YAML')
    .addOption(
      new Option('--compose <flavor>', 'compose flavor to show')
        .choices(['plugin', 'standalone'])
        .default('plugin'),
    )
    .option('--json', 'machine-readable output')
    .action(async (o) => (await import('./cli/plan.js')).planCommand(o));
  program
    .command('status <cluster>')
    .description('phase and per-host progress of the latest deploy of a cluster')
    .option('--json', 'machine-readable output')
    .action(async (cluster: string, o) =>
      (await deployCli()).statusCommand(cluster, Boolean(o.json)),
    );
  program
    .command('cancel <cluster>')
    .description('cancel the running deploy of a cluster')
    .action(async (cluster: string) => (await deployCli()).cancelCommand(cluster));

  const verifyOptions = (cmd: Command) =>
    cmd
      .option(
        '--drills <list>',
        "drills to run, comma-separated: data-plane,control-plane,etcd (the guide's), host,etcd-partition,gateway-restart-degraded, or all",
        'data-plane,control-plane,etcd',
      )
      .option(
        '--rate <n>',
        'probe requests per second through the load balancer during a fault',
        float('--rate'),
      )
      .option('--hold <seconds>', 'how long each fault lasts', float('--hold'))
      .option('--data-plane-host <host>', 'gateway host to stop (default: rotates between runs)')
      .option('--control-plane-host <host>', 'dashboard host to stop (default: rotates)')
      .option('--etcd-host <host>', 'etcd host to stop (default: rotates)')
      .option(
        '--host-drill-host <host>',
        'host drill: host to cut off (default: most roles, rotates)',
      )
      .option('--partition-host <host>', 'etcd-partition: member to cut off (default: rotates)')
      .option(
        '--gateway-restart-host <host>',
        'gateway-restart-degraded: gateway to restart (the etcd member: --etcd-host)',
      )
      .option(
        '--max-failed-ratio <ratio>',
        'tolerance: failed share of probe requests, e.g. 0.001 = 0.1 %',
        float('--max-failed-ratio'),
      )
      .option(
        '--max-recovery <seconds>',
        'tolerance: time from restore to healthy',
        float('--max-recovery'),
      )
      .option(
        '--require-approval',
        'wait for `api7-ha verify approve <cluster>` before the first fault (the inventory can make it the default: verify.requireApproval)',
      )
      .option(
        '--approval-timeout <seconds>',
        "how long to wait for the approval before ending aborted (default: the inventory's verify.approvalTimeoutSeconds, 3600)",
        float('--approval-timeout'),
      )
      .option(
        '--abort-failed-share <ratio>',
        'safeguard: abort a fault when more than this share fails through a load balancer within 5 s (default 0.5)',
        float('--abort-failed-share'),
      )
      .option(
        '--abort-unhealthy-after <seconds>',
        'safeguard: abort a fault when a component that is not its target is unhealthy this long (default 6)',
        float('--abort-unhealthy-after'),
      );
  const verify = verifyOptions(
    program
      .command('verify')
      .description(
        "run failure drills now (the guide's three by default) and report a verdict (or show the last one)",
      )
      .option('-i, --inventory <file>', 'inventory YAML')
      .option(
        '--last <cluster>',
        'show the latest finished verification of a cluster instead of running one',
      )
      .option('-f, --follow', 'wait, show progress, print the report table')
      .option(
        '--json [file]',
        'write the journal as JSON to <file>; without a file, print the result as JSON instead of the table',
      )
      .option(
        '--markdown <file>',
        'also write the report as Markdown, with one SVG chart per drill beside it (<file>.<drill>.svg)',
      )
      .option(
        '--html <file>',
        'also write the report as one self-contained HTML page with a chart of each drill',
      ),
  ).action(async (o) => void (await (await import('./cli/verify.js')).verifyCommand(o)));
  verify
    .command('approve <cluster>')
    .description(
      'approve (or --reject) the running verification of a cluster that waits for approval before its first fault',
    )
    .option('--reject', 'reject instead: the run ends aborted with nothing injected')
    .option('--reason <text>', 'why (required with --reject)')
    .option('--as <identity>', 'who approves (default: your user@host)')
    .action(async (cluster: string, o) =>
      (await import('./cli/approve.js')).approveCommand(cluster, o),
    );

  program
    .command('teardown')
    .description(
      'remove every api7-ha container, compose project, image, bundle and artifact from the hosts (workflow teardown-<cluster>); etcd data is kept',
    )
    .requiredOption('-i, --inventory <file>', 'inventory YAML')
    .option('--yes', 'really do it (without it: print the plan and refuse)')
    .option('--plan', 'print what it would run per host; touches nothing')
    .option('--delete-etcd-data', "also delete etcd's data directories (the keyspace is lost)")
    .option('--json', 'machine-readable plan or result')
    .action(async (o) => void (await (await import('./cli/teardown.js')).teardownCommand(o)));

  program
    .command('remove')
    .description(
      "take one host's dashboard or gateway out of the cluster: drain, stop, remove its files (workflow remove-<cluster>); the inventory still lists the host",
    )
    .requiredOption('-i, --inventory <file>', 'inventory YAML of the cluster as it is now')
    .requiredOption('--host <name>', 'the host to take out')
    .option('--force', 'take it out even when fewer than the minimums would remain')
    .option('--plan', 'print what it would run; touches nothing')
    .option('--json', 'machine-readable plan or result')
    .action(async (o) => void (await (await import('./cli/remove.js')).removeCommand(o)));

  const backupCli = () => import('./cli/backup.js');
  const backup = program
    .command('backup')
    .description(
      'take a checked etcd snapshot to this machine with its manifest, and prune past retention (workflow backup-<cluster>)',
    )
    .option('-i, --inventory <file>', 'inventory YAML')
    .option(
      '--to <dir>',
      "directory for the backup (default: the inventory's backup.dir, else .data/backups/<cluster>)",
    )
    .option('--json', 'print the result as JSON')
    .action(async (o) => void (await (await backupCli()).backupCommand(o)));
  backup
    .command('list')
    .description('list the backups of a cluster (or in a directory) with their manifests')
    .option('-i, --inventory <file>', "inventory YAML: its cluster's backup directory")
    .option('--dir <dir>', 'a backup directory')
    .option('--json', 'machine-readable output')
    // `backup` has -i and --json of its own, which commander gives to it: merge them in.
    .action(async (_o, cmd: Command) =>
      (await backupCli()).backupListCommand(cmd.optsWithGlobals()),
    );

  program
    .command('restore')
    .description(
      'rebuild etcd from a backup on every member (workflow restore-<cluster>); without --yes, print the plan and refuse',
    )
    .option('-i, --inventory <file>', 'inventory YAML')
    .option('--snapshot <file|latest>', "a backup's .db file, or the newest backup of the cluster")
    .option('--from <dir>', 'with latest: the backup directory (default: as for backup)')
    .option('--yes', 'do it: stops the dashboards and every etcd member')
    .option('-f, --follow', 'show per-host progress while it runs')
    .option('--json', 'print the plan or the result as JSON')
    .action(async (o) => void (await (await import('./cli/restore.js')).restoreCommand(o)));

  const schedule = program
    .command('schedule')
    .description(
      'run verifyHA (or, with --backup, backupEtcd) on a Temporal Schedule (overlap policy: skip)',
    );
  verifyOptions(
    schedule
      .command('create')
      .description('create the schedule verify-<cluster> (or backup-<cluster> with --backup)')
      .requiredOption('-i, --inventory <file>', 'inventory YAML')
      .option('--cron <expr>', 'cron expression, e.g. "0 3 * * *"')
      .option('--every <duration>', 'interval, e.g. 30m, 6h')
      .option('--paused', 'create it paused')
      .option('--backup', 'run etcd backups instead of the drills')
      .option('--to <dir>', 'with --backup: directory for the backups'),
  ).action(async (o) => (await import('./cli/schedule.js')).scheduleCreate(o));
  schedule
    .command('list')
    .option('--json', 'machine-readable output')
    .action(async (o) => (await import('./cli/schedule.js')).scheduleList(Boolean(o.json)));
  schedule
    .command('describe <cluster>')
    .option('--json', 'machine-readable output')
    .option('--backup', 'the backup schedule backup-<cluster>')
    .action(async (c: string, o) =>
      (await import('./cli/schedule.js')).scheduleDescribe(
        c,
        Boolean(o.json),
        o.backup ? 'backup' : 'verify',
      ),
    );
  for (const action of ['pause', 'unpause', 'trigger', 'delete'] as const)
    schedule
      .command(`${action} <cluster>`)
      .description(`${action} the schedule verify-<cluster> (backup-<cluster> with --backup)`)
      .option('--backup', 'the backup schedule')
      .action(async (c: string, o) =>
        (await import('./cli/schedule.js')).scheduleAction(
          c,
          action,
          o.backup ? 'backup' : 'verify',
        ),
      );

  const hosts = program.command('hosts').description('SSH hosts: host keys and sudo rules');
  hosts
    .command('trust')
    .description("show every host's key fingerprint and whether the inventory trusts it")
    .requiredOption('-i, --inventory <file>', 'inventory YAML')
    .option('--write', "record keys nobody vouched for yet in the inventory's ssh.knownHosts file")
    .option('--json', 'machine-readable output')
    .action(async (o) => (await import('./cli/hosts.js')).hostsTrustCommand(o));
  hosts
    .command('sudoers')
    .description(
      'print the sudoers drop-in each host reached with ssh.sudo needs (every command api7-ha runs as root there)',
    )
    .requiredOption('-i, --inventory <file>', 'inventory YAML')
    .option('--host <name>', 'only this host (also one without ssh.sudo)')
    .option('--user <name>', "the SSH user the rules are for (default: the host's ssh.user)")
    .action(async (o) => (await import('./cli/sudoers.js')).hostsSudoersCommand(o));

  const codec = program.command('codec').description('payload encryption keys');
  codec
    .command('keygen')
    .description('add a new AES-256 key (the newest encrypts; older keys still decrypt)')
    .option('--file <path>', 'key file (default: API7HA_CODEC_KEYS_FILE or .data/codec.keys)')
    .option('--if-missing', 'do nothing when the key file exists')
    .action(async (o) => (await import('./cli/codec.js')).keygenCommand(o));
  program
    .command('codec-server')
    .description('serve /encode and /decode so the Temporal UI can show payloads to key holders')
    .option('--host <address>', 'address to listen on', '127.0.0.1')
    .option('--port <port>', 'port', int('--port'), DEFAULT_CODEC_PORT)
    .option(
      '--origin <url>',
      'a Web UI origin allowed to call it, repeatable (default: the UI printed links open, see TEMPORAL_UI_URL)',
      (v: string, prev: string[] = []) => [...prev, v],
    )
    .action(async (o) => void (await (await import('./cli/codec.js')).codecServerCommand(o)));

  const inventory = program.command('inventory').description('work with inventory files');
  inventory
    .command('check')
    .description('validate an inventory without touching any host')
    .requiredOption('-i, --inventory <file>', 'inventory YAML')
    .action(async (o) => (await import('./cli/inventory.js')).checkInventory(o.inventory));

  program.command(
    'lab',
    'the test lab: several real hosts (sshd + Docker) on this machine; needs root',
    { executableFile: labEntry('cli') },
  );

  return program;
}

if (require.main === module || process.argv[1]?.endsWith('api7-ha')) runProgram(buildProgram());
