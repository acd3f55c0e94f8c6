/** DHCID (RFC 4701) against the RFC's own examples (§3.6). */
import t from 'tap';
import { dhcidRdata } from './dhcid.js';

const b64 = (b: Uint8Array): string => Buffer.from(b).toString('base64');

t.test('RFC 4701 §3.6 examples', async (t) => {
  // §3.6.3: htype 1, chaddr 01:02:03:04:05:06, client.example.com (also Net::DNS's example).
  t.equal(
    b64(dhcidRdata({ htype: 1, chaddr: Uint8Array.of(1, 2, 3, 4, 5, 6) }, 'client.example.com.')),
    'AAABxLmlskllE0MVjd57zHcWmEH3pCQ6VytcKD//7es/deY=',
  );
  // §3.6.2: client identifier option 01:07:08:09:0a:0b:0c, chi.example.com.
  t.equal(
    b64(dhcidRdata({ clientId: Uint8Array.of(1, 7, 8, 9, 10, 11, 12) }, 'chi.example.com')),
    'AAEBOSD+XR3Os/0LozeXVqcNc7FwCfQdWL3b/NaiUDlW2No=',
  );
});

t.test('the name is compared in canonical (lower-case) form', async (t) => {
  const id = { htype: 1, chaddr: Uint8Array.of(2, 0, 0, 0, 0, 1) };
  t.same(dhcidRdata(id, 'PC1.Example.COM'), dhcidRdata(id, 'pc1.example.com.'));
  t.notSame(dhcidRdata(id, 'pc1.example.com'), dhcidRdata(id, 'pc2.example.com'));
  t.throws(() => dhcidRdata(id, `${'a'.repeat(64)}.example.com`), /bad label/);
});
