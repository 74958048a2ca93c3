"""Validates a fideslang manifest file with fideslang's own models (PyPI `fideslang`).

Usage: python validate.py FILE

Each resource is validated with its pydantic model (Organization, System, DataCategory,
DataSubject); then every reference is checked: each data category, data use and data subject a
privacy declaration names exists in fideslang's default taxonomy or is declared in the file
(a custom data category's parent too), each system's ingress and egress name a system of the
file, and each resource's organization is declared. Prints one line per problem and exits 1,
or prints a summary and exits 0.
"""

import sys

import yaml
from fideslang import DEFAULT_TAXONOMY
from fideslang.models import DataCategory, DataSubject, Organization, System


def main(path: str) -> int:
    with open(path, encoding="utf-8") as f:
        manifest = yaml.safe_load(f)
    problems = []
    models = {
        "organization": Organization,
        "system": System,
        "data_category": DataCategory,
        "data_subject": DataSubject,
    }
    parsed = {kind: [] for kind in models}
    for kind, items in manifest.items():
        model = models.get(kind)
        if model is None:
            problems.append(f"{kind}: not a resource type this validator knows")
            continue
        for i, item in enumerate(items):
            try:
                parsed[kind].append(model.model_validate(item))
            except Exception as err:  # pydantic.ValidationError and fideslang's own
                problems.append(f"{kind}[{i}] {item.get('fides_key')}: {err}")

    categories = {c.fides_key for c in DEFAULT_TAXONOMY.data_category}
    categories |= {c.fides_key for c in parsed["data_category"]}
    subjects = {s.fides_key for s in DEFAULT_TAXONOMY.data_subject}
    subjects |= {s.fides_key for s in parsed["data_subject"]}
    uses = {u.fides_key for u in DEFAULT_TAXONOMY.data_use}
    organizations = {o.fides_key for o in parsed["organization"]} | {"default_organization"}
    systems = {s.fides_key for s in parsed["system"]}

    for c in parsed["data_category"]:
        if c.parent_key and c.parent_key not in categories:
            problems.append(f"data_category {c.fides_key}: no parent {c.parent_key}")
    for s in parsed["system"]:
        if s.organization_fides_key not in organizations:
            problems.append(f"system {s.fides_key}: no organization {s.organization_fides_key}")
        for direction in ("ingress", "egress"):
            for flow in getattr(s, direction) or []:
                if flow.type == "system" and flow.fides_key not in systems:
                    problems.append(f"system {s.fides_key}: {direction} to unknown system {flow.fides_key}")
                for c in flow.data_categories or []:
                    if c not in categories:
                        problems.append(f"system {s.fides_key}: {direction} category {c} unknown")
        for d in s.privacy_declarations:
            where = f"system {s.fides_key}, declaration {d.name!r}"
            if d.data_use not in uses:
                problems.append(f"{where}: data use {d.data_use} is not in fideslang's taxonomy")
            for c in d.data_categories:
                if c not in categories:
                    problems.append(f"{where}: data category {c} unknown")
            for subject in d.data_subjects:
                if subject not in subjects:
                    problems.append(f"{where}: data subject {subject} unknown")

    for p in problems:
        print(p)
    if problems:
        return 1
    declarations = sum(len(s.privacy_declarations) for s in parsed["system"])
    print(
        f"valid: {len(parsed['organization'])} organization, {len(systems)} systems, "
        f"{declarations} privacy declarations, {len(parsed['data_category'])} custom data "
        f"categories, {len(parsed['data_subject'])} data subjects"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
