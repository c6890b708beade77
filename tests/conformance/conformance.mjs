// Drives a running Zorgkluis server with the npm FHIR client fhir-kit-client, as a new
// user would: create, read, update, search with paging, history, transaction,
// $everything, a 403 and a 404. Environment as for conformance.py.
import Client from 'fhir-kit-client';

const baseUrl = process.env.ZK_BASE;
const gp = new Client({ baseUrl, bearerToken: process.env.ZK_TOKEN });
const other = new Client({ baseUrl, bearerToken: process.env.ZK_TOKEN_OTHER });

function check(cond, what) {
  if (!cond) {
    console.log(`FAILED: ${what}`);
    process.exit(1);
  }
  console.log(`ok: ${what}`);
}

async function status(promise) {
  try {
    await promise;
    return 200;
  } catch (e) {
    return e.response ? e.response.status : -1;
  }
}

const meta = await gp.capabilityStatement();
check(meta.resourceType === 'CapabilityStatement', 'metadata');

const practitioners = await gp.search({ resourceType: 'Practitioner', searchParams: { family: 'Jansen' } });
const practitioner = practitioners.entry[0].resource;
const roles = await gp.search({ resourceType: 'PractitionerRole', searchParams: { practitioner: `Practitioner/${practitioner.id}` } });
const orgRef = roles.entry[0].resource.organization.reference;

const tx = await gp.transaction({
  body: {
    resourceType: 'Bundle',
    type: 'transaction',
    entry: [
      {
        fullUrl: 'urn:uuid:7c1e2d3f-4a5b-4c6d-8e9f-a0b1c2d3e4f5',
        resource: { resourceType: 'Patient', name: [{ family: 'Conformance', given: ['Kit'] }], gender: 'female', birthDate: '1985-06-15' },
        request: { method: 'POST', url: 'Patient' },
      },
      {
        resource: {
          resourceType: 'CareTeam',
          status: 'active',
          subject: { reference: 'urn:uuid:7c1e2d3f-4a5b-4c6d-8e9f-a0b1c2d3e4f5' },
          participant: [{ member: { reference: `Practitioner/${practitioner.id}` }, onBehalfOf: { reference: orgRef } }],
        },
        request: { method: 'POST', url: 'CareTeam' },
      },
    ],
  },
});
check(tx.type === 'transaction-response', 'transaction');
const pid = tx.entry[0].response.location.split('/')[1];

const patient = await gp.read({ resourceType: 'Patient', id: pid });
check(patient.name[0].family === 'Conformance', 'read');
patient.telecom = [{ system: 'email', value: 'kit@voorbeeld.nl' }];
const updated = await gp.update({ resourceType: 'Patient', id: pid, body: patient });
check(updated.meta.versionId === '2', 'update');

for (const value of [38, 44, 51]) {
  const created = await gp.create({
    resourceType: 'Observation',
    body: {
      resourceType: 'Observation',
      status: 'final',
      code: { coding: [{ system: 'http://loinc.org', code: '4548-4' }] },
      subject: { reference: `Patient/${pid}` },
      effectiveDateTime: '2026-11-02',
      valueQuantity: { value, unit: 'mmol/mol' },
    },
  });
  check(created.id, 'create');
}
let page = await gp.search({ resourceType: 'Observation', searchParams: { patient: pid, _count: 2 } });
let seen = page.entry.length;
check(page.total === 3, 'search total');
while (page.link.some((l) => l.relation === 'next')) {
  page = await gp.nextPage({ bundle: page });
  seen += page.entry.length;
}
check(seen === 3, 'search with paging (nextPage)');

const history = await gp.history({ resourceType: 'Patient', id: pid });
check(history.type === 'history' && history.entry.length === 2, 'history');
const everything = await gp.operation({ name: '$everything', resourceType: 'Patient', id: pid, method: 'get' });
check(everything.total === 5, '$everything');

check((await status(other.read({ resourceType: 'Patient', id: pid }))) === 403, '403 for a user without a relationship');
check((await status(gp.read({ resourceType: 'Organization', id: 'does-not-exist' }))) === 404, '404');
