// The gateway's Prometheus metrics, with the names, labels and help texts of APISIX's
// prometheus plugin, written in the Prometheus text exposition format.

type Labels = Record<string, string>;

const escapeLabel = (v: string) =>
  v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');

function labelText(labels: Labels): string {
  const parts = Object.entries(labels).map(([k, v]) => `${k}="${escapeLabel(v)}"`);
  return parts.length ? `{${parts.join(',')}}` : '';
}

interface Family {
  help: string;
  type: 'counter' | 'gauge';
  samples: Map<string, { labels: Labels; value: number }>;
}

export class MetricsRegistry {
  private readonly families = new Map<string, Family>();

  define(name: string, type: 'counter' | 'gauge', help: string): void {
    if (!this.families.has(name)) this.families.set(name, { help, type, samples: new Map() });
  }

  private sample(name: string, labels: Labels) {
    const family = this.families.get(name);
    if (!family) throw new Error(`metric ${name} is not defined`);
    const key = labelText(labels);
    let s = family.samples.get(key);
    if (!s) {
      s = { labels, value: 0 };
      family.samples.set(key, s);
    }
    return s;
  }

  inc(name: string, labels: Labels = {}, by = 1): void {
    this.sample(name, labels).value += by;
  }

  set(name: string, labels: Labels, value: number): void {
    this.sample(name, labels).value = value;
  }

  render(): string {
    const out: string[] = [];
    for (const [name, f] of [...this.families.entries()].sort(([a], [b]) => a.localeCompare(b))) {
      if (f.samples.size === 0) continue;
      out.push(`# HELP ${name} ${f.help}`, `# TYPE ${name} ${f.type}`);
      for (const [key, s] of f.samples) out.push(`${name}${key} ${s.value}`);
    }
    return `${out.join('\n')}\n`;
  }
}

/** The families APISIX 2.x exports (the subset the lab and the drills look at). */
export function apisixMetrics(hostname: string): MetricsRegistry {
  const m = new MetricsRegistry();
  m.define('apisix_http_status', 'counter', 'HTTP status codes per service in APISIX');
  m.define(
    'apisix_bandwidth',
    'counter',
    'Total bandwidth in bytes consumed per service in APISIX',
  );
  m.define(
    'apisix_http_requests_total',
    'gauge',
    'The total number of client requests since APISIX started',
  );
  m.define('apisix_nginx_http_current_connections', 'gauge', 'Number of HTTP connections');
  m.define(
    'apisix_etcd_reachable',
    'gauge',
    'Config server etcd reachable from APISIX, 0 is unreachable',
  );
  m.define('apisix_etcd_modify_indexes', 'gauge', 'APISIX etcd modify index for every resource');
  m.define('apisix_node_info', 'gauge', 'Info of APISIX node');
  m.set('apisix_node_info', { hostname }, 1);
  return m;
}
