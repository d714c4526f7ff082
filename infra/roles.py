"""Granting a function's role one more inline policy in the merge overlay."""

from __future__ import annotations

from typing import Any


def role_with_policy(
    resources: dict[str, Any],
    overlay: dict[str, Any],
    function_id: str,
    name: str,
    statement: dict[str, Any],
) -> tuple[str, dict[str, Any]] | None:
    """(the role's id, its overlay) with the policy `name` holding `statement` added to the
    policies `overlay` already gives the role of `function_id`, else Chalice's; None when
    the function has no role of this template."""
    props = resources[function_id].get("Properties", {})
    role = props.get("Role", {}).get("Fn::GetAtt", [None])[0]
    if role not in resources:
        return None
    given = overlay.get(role, {}).get("Properties", {}).get("Policies")
    policies = given if given is not None else resources[role]["Properties"].get("Policies", [])
    document = {"Version": "2012-10-17", "Statement": [{"Sid": name, **statement}]}
    added = {"PolicyName": name, "PolicyDocument": document}
    return role, {"Properties": {"Policies": [*policies, added]}}
