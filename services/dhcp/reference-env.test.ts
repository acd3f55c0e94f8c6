import t from 'tap';
import { applyEnvOverrides, finishConfig } from '../../src/config.js';
import { DhcpConfig, checkDhcpConfig } from './config.js';
import { referenceEnvOverrides } from './reference-env.js';

const REFERENCE_ETH1 = {
  IFDHCP: 'eth1',
  IPV4_SUBNET: '192.168.1.0',
  IPV4_NETMASK: '255.255.255.0',
  MIN_IPV4_ADDRESS: '192.168.1.10',
  MAX_IPV4_ADDRESS: '192.168.1.100',
  IPV4_GATEWAY: '192.168.1.1',
  IPV4_GATEWAY_MASK: '255.255.255.0',
  DOMAIN_NAMES_SERVER_IPV4: '192.168.0.2, 1.1.1.1, 8.8.8.8',
  DEFAULT_LEASE_TIME: '120',
  MIN_LEASE_TIME: '60',
  MAX_LEASE_TIME: '3600',
};

function load(env: Record<string, string>, file: Record<string, unknown> = {}) {
  const data = structuredClone(file);
  const issues = applyEnvOverrides(
    data,
    DhcpConfig,
    referenceEnvOverrides(env) as never,
    'dhcp.yaml',
  );
  const fin = finishConfig(DhcpConfig, data, 'dhcp.yaml');
  return {
    cfg: fin.value,
    issues: [...issues, ...fin.issues],
    check: fin.issues.length ? [] : checkDhcpConfig(fin.value),
  };
}

t.test("the reference compose file's variables configure one interface", async (t) => {
  const { cfg, issues, check } = load(REFERENCE_ETH1, {
    subnets: [{ subnet: '10.0.0.0/8' }, { subnet: '172.16.0.0/12' }],
  });
  t.same(issues, []);
  t.same(check, []);
  t.same(cfg.listen, [
    { interface: 'eth1', address: '0.0.0.0', port: 67, clientPort: 68, relayPort: 67 },
  ]);
  t.equal(cfg.subnets.length, 1, "the file's subnets are replaced");
  t.equal(cfg.subnets[0]!.subnet, '192.168.1.0/24');
  t.same(cfg.subnets[0]!.pools, [{ start: '192.168.1.10', end: '192.168.1.100' }]);
  t.same(cfg.subnets[0]!.options?.dnsServers, ['192.168.0.2', '1.1.1.1', '8.8.8.8']);
  t.same(cfg.subnets[0]!.options?.routers, ['192.168.1.1']);
  t.same(cfg.leaseTime, { default: 120, min: 60, max: 3600 });
});

t.test('bad netmask is reported, naming the variable', async (t) => {
  const { issues } = load({ ...REFERENCE_ETH1, IPV4_NETMASK: '255.0.255.0' });
  const { check } = load({ ...REFERENCE_ETH1, IPV4_NETMASK: '255.0.255.0' });
  t.same(issues, []);
  t.match(check.join('\n'), /IPV4_NETMASK/);
});

t.test('without a subnet, gateway and DNS set the global options', async (t) => {
  const { cfg } = load({
    IPV4_GATEWAY: '192.168.1.1',
    DOMAIN_NAMES_SERVER_IPV4: '192.168.0.2 8.8.8.8',
  });
  t.same(cfg.options?.routers, ['192.168.1.1']);
  t.same(cfg.options?.dnsServers, ['192.168.0.2', '8.8.8.8']);
  t.same(referenceEnvOverrides({}), []);
});
