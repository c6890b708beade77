"""Drives a running Zorgkluis server with the Python FHIR client fhirpy, as a new user
would, and validates every resource it returns with the fhir.resources R4B models.

Environment: ZK_BASE (…/fhir), ZK_TOKEN (a GP's client), ZK_TOKEN_OTHER (an assistant
without a care relationship). Exits non-zero on the first failure."""

import json
import os
import sys

from fhirpy import SyncFHIRClient
from fhirpy.base.exceptions import ForbiddenError, ResourceNotFound
from fhir.resources.R4B import get_fhir_model_class

BASE = os.environ["ZK_BASE"]
gp = SyncFHIRClient(BASE, authorization=f"Bearer {os.environ['ZK_TOKEN']}")
other = SyncFHIRClient(BASE, authorization=f"Bearer {os.environ['ZK_TOKEN_OTHER']}")
privacy_officer = SyncFHIRClient(BASE, authorization=f"Bearer {os.environ['ZK_TOKEN_FG']}")
validated = {}


def validate(resource):
    """Validates a resource (and every resource in a Bundle) against the R4B model."""
    data = resource.serialize() if hasattr(resource, "serialize") else dict(resource)
    rt = data["resourceType"]
    get_fhir_model_class(rt).model_validate(data)
    validated[rt] = validated.get(rt, 0) + 1
    for entry in data.get("entry", []) or []:
        if "resource" in entry:
            validate(entry["resource"])
    return data


def check(cond, what):
    if not cond:
        print(f"FAILED: {what}")
        sys.exit(1)
    print(f"ok: {what}")


validate(gp.execute("metadata", method="get"))

# The GP's own practitioner and organisation, found through FHIR search.
practitioners = gp.resources("Practitioner").search(family="Jansen").fetch()
check(len(practitioners) >= 1, "search Practitioner by family name (blind index)")
practitioner = practitioners[0]
roles = gp.resources("PractitionerRole").search(practitioner=f"Practitioner/{practitioner.id}").fetch()
org_ref = roles[0]["organization"]["reference"]

# Register a patient with a care team in one transaction.
tx = gp.execute("", method="post", data={
    "resourceType": "Bundle", "type": "transaction",
    "entry": [
        {"fullUrl": "urn:uuid:5f2a9c1e-1d3b-4c6a-9e8f-0a1b2c3d4e5f",
         "resource": {"resourceType": "Patient", "name": [{"family": "Conformance", "given": ["Fhirpy"]}],
                      "gender": "other", "birthDate": "1990-01-01",
                      "identifier": [{"system": "http://fhir.nl/fhir/NamingSystem/bsn", "value": "999911120"}]},
         "request": {"method": "POST", "url": "Patient"}},
        {"resource": {"resourceType": "CareTeam", "status": "active",
                      "subject": {"reference": "urn:uuid:5f2a9c1e-1d3b-4c6a-9e8f-0a1b2c3d4e5f"},
                      "participant": [{"member": {"reference": f"Practitioner/{practitioner.id}"},
                                       "onBehalfOf": {"reference": org_ref}}]},
         "request": {"method": "POST", "url": "CareTeam"}},
    ]})
validate(tx)
pid = tx["entry"][0]["response"]["location"].split("/")[1]
check(tx["type"] == "transaction-response", "transaction registers a patient and a care team")

patient = gp.reference("Patient", pid).to_resource()
validate(patient)
check(patient["name"][0]["family"] == "Conformance", "read")
patient["telecom"] = [{"system": "phone", "value": "0612345678"}]
patient.save()
check(gp.reference("Patient", pid).to_resource()["meta"]["versionId"] == "2", "update")

for value in (41, 47, 53):
    obs = gp.resource("Observation", status="final",
                      code={"coding": [{"system": "http://loinc.org", "code": "4548-4"}]},
                      subject={"reference": f"Patient/{pid}"},
                      effectiveDateTime="2026-11-01", valueQuantity={"value": value, "unit": "mmol/mol"})
    obs.save()
    validate(obs)
found = gp.resources("Observation").search(patient=pid).limit(2).fetch_all()
check(len(found) == 3, "search with paging (next links followed)")
for o in found:
    validate(o)
check(gp.resources("Observation").search(patient=pid).count() == 3, "_summary=count / total")

history = gp.execute(f"Patient/{pid}/_history", method="get")
validate(history)
check(len(history["entry"]) == 2, "history")
everything = gp.execute(f"Patient/{pid}/$everything", method="get")
validate(everything)
check(everything["total"] == 5, "$everything")

# Every kind of resource in a demo record the GP treats.
for p in gp.resources("Patient").limit(3).fetch():
    validate(gp.execute(f"Patient/{p.id}/$everything", method="get", params={"_count": 1000}))
# The audit trail as FHIR AuditEvent resources.
trail = privacy_officer.execute("AuditEvent", method="get", params={"patient": pid, "_count": 200})
validate(trail)
check(trail["total"] > 0, "AuditEvent search by the privacy officer")

try:
    other.reference("Patient", pid).to_resource()
    check(False, "403 for a user without a relationship")
except ForbiddenError as e:
    validate(json.loads(str(e)))
    check("forbidden" in str(e), "403 for a user without a relationship")
except ResourceNotFound:
    check(False, "403 (not 404) for a user without a relationship")
try:
    gp.reference("Organization", "does-not-exist").to_resource()
    check(False, "404")
except ResourceNotFound:
    check(True, "404 for a missing directory resource")

print("validated with fhir.resources R4B:", ", ".join(f"{k} {v}" for k, v in sorted(validated.items())))
