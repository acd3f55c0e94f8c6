/**
 * RFC 4703 conflict resolution end to end on the pure pieces: the requests ddns.ts builds,
 * decided by the DNS service's update.ts on an in-memory zone, applied as the journal would.
 */
import t from 'tap';
import { nameFromText, nameKey } from '../dns/name.js';
import { TYPE, type RR } from '../dns/rr.js';
import {
  decideUpdate,
  UPDATE_RCODE as R,
  type UpdateRequest,
  type ZoneView,
} from '../dns/update.js';
import { rrFromText } from '../dns/zone-file.js';
import { dhcidRdata } from './dhcid.js';
import { ZoneRecords } from '../dns/zone-changes.js';
import {
  claimForward,
  hostLabel,
  removeForward,
  removeReverse,
  reverseName,
  setReverse,
  updateOwnForward,
  type LeaseName,
} from './ddns.js';
import { ipFromText } from './ipv4.js';

class MemoryZone {
  records: RR[];
  constructor(
    readonly origin: Uint8Array,
    soa: string,
  ) {
    this.records = [rrFromText(soa, origin, 300), rrFromText('@ NS ns1', origin, 300)];
  }
  view(): ZoneView {
    return new ZoneRecords(this.origin, this.records).view();
  }
  send(req: UpdateRequest): number {
    const d = decideUpdate(req, this.view());
    if (d.rcode !== R.NOERROR) return d.rcode;
    const k = (r: RR) =>
      `${nameKey(r.owner)}|${r.type}|${r.ttl}|${Buffer.from(r.rdata).toString('hex')}`;
    const gone = new Set(d.deletes.map(k));
    this.records = [...this.records.filter((r) => !gone.has(k(r))), ...d.adds];
    return d.rcode;
  }
  a(name: string): string[] {
    const n = nameKey(nameFromText(name));
    return this.records
      .filter((r) => r.type === TYPE.A && nameKey(r.owner) === n)
      .map((r) => [...r.rdata].join('.'));
  }
}

const lease = (mac: number, host: string, address: string): LeaseName => ({
  fqdn: `${host}.tic2023.com.`,
  forwardZone: 'tic2023.com.',
  address: ipFromText(address),
  reverseZone: '1.168.192.in-addr.arpa.',
  dhcid: dhcidRdata(
    { htype: 1, chaddr: Uint8Array.of(2, 0, 0, 0, 0, mac) },
    `${host}.tic2023.com.`,
  ),
  ttl: 300,
});

t.test('claim, no stealing, renew with a new address, release', async (t) => {
  const fwd = new MemoryZone(
    nameFromText('tic2023.com.'),
    '@ SOA ns1 hostmaster 1 3600 600 86400 300',
  );
  const rev = new MemoryZone(
    nameFromText('1.168.192.in-addr.arpa.'),
    '@ SOA ns1 hostmaster 1 3600 600 86400 300',
  );
  const alice = lease(1, 'pc1', '192.168.1.50');
  t.equal(fwd.send(claimForward(alice)), R.NOERROR, 'a free name is claimed');
  t.equal(rev.send(setReverse(alice)), R.NOERROR);
  t.same(fwd.a('pc1.tic2023.com.'), ['192.168.1.50']);
  // Another client asking for the same name (§5.3.2): the claim and the update both fail.
  const mallory = lease(2, 'pc1', '192.168.1.51');
  t.equal(fwd.send(claimForward(mallory)), R.YXDOMAIN, 'the name is in use');
  t.equal(fwd.send(updateOwnForward(mallory)), R.NXRRSET, 'its DHCID is not ours: no steal');
  t.same(fwd.a('pc1.tic2023.com.'), ['192.168.1.50'], 'unchanged');
  // Alice again, on a new address: claim fails, her update succeeds and replaces the A.
  const alice2 = { ...alice, address: ipFromText('192.168.1.60') };
  t.equal(fwd.send(claimForward(alice2)), R.YXDOMAIN);
  t.equal(fwd.send(updateOwnForward(alice2)), R.NOERROR);
  t.same(fwd.a('pc1.tic2023.com.'), ['192.168.1.60']);
  t.equal(rev.send(setReverse(alice2)), R.NOERROR);
  t.equal(rev.send(removeReverse(alice)), R.NOERROR, "the old address's PTR goes with it");
  // Release: mallory's removal is refused, alice's removes A and DHCID.
  t.equal(fwd.send(removeForward({ ...mallory, address: alice2.address })), R.NXRRSET);
  t.equal(fwd.send(removeForward(alice2)), R.NOERROR);
  t.same(fwd.a('pc1.tic2023.com.'), []);
  t.notOk(
    fwd.records.some((r) => nameKey(r.owner) === nameKey(nameFromText('pc1.tic2023.com.'))),
    'the name is gone',
  );
  t.equal(rev.send(removeReverse(alice2)), R.NOERROR);
  t.notOk(
    rev.records.some(
      (r) =>
        r.type === TYPE.PTR &&
        nameKey(r.owner) === nameKey(nameFromText(reverseName(alice2.address))),
    ),
  );
  t.notOk(
    rev.records.some((r) => r.type === TYPE.PTR),
    'no PTR left',
  );
});

t.test('host names become one lower-case label (RFC 1123)', async (t) => {
  t.equal(hostLabel('Alice_Laptop'), 'alice-laptop');
  t.equal(hostLabel('pc1.home.lan'), 'pc1', 'an FQDN gives its first label');
  t.equal(hostLabel('--x--'), 'x');
  t.equal(hostLabel('???'), undefined);
  t.equal(hostLabel(''), undefined);
  t.equal(hostLabel(undefined), undefined);
  t.equal(hostLabel('a'.repeat(80))!.length, 63);
  t.equal(reverseName(ipFromText('192.168.1.50')), '50.1.168.192.in-addr.arpa.');
});
