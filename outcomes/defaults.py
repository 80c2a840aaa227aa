"""The registry-wide default outcome plans (a registry administrator can change them, or add plans per site or
protocol, in the admin).

knee: KOOS (WOMAC is derived from it) and pain VAS at every timepoint;
hip: HOOS (WOMAC derived), mHHS and pain VAS, plus the clinician's HHS examination at baseline and 12 and
24 months, when the patient is seen in clinic;
spine: ODI and pain VAS; other joints: pain VAS.
"""

from __future__ import annotations

from typing import Any

ALL = ["baseline", "m3", "m6", "m12", "m24"]
DEFAULT_PLANS: dict[str, tuple[str, dict[str, list[str]]]] = {
    "knee": ("Knee default", {tp: ["koos", "vas"] for tp in ALL}),
    "hip": (
        "Hip default",
        {tp: ["hoos", "mhhs", "vas"] + (["hhs_exam"] if tp in ("baseline", "m12", "m24") else []) for tp in ALL},
    ),
    "spine": ("Spine default", {tp: ["odi", "vas"] for tp in ALL}),
    "other": ("Other joint default", {tp: ["vas"] for tp in ALL}),
}


def ensure_default_plans(plan_model: Any, item_model: Any) -> int:
    """Create any missing registry-wide default plan (models passed in, so a migration can use it too)."""
    created_count = 0
    for joint, (name, by_tp) in DEFAULT_PLANS.items():
        plan, created = plan_model.objects.get_or_create(joint=joint, site=None, protocol=None, name=name)
        if created:
            created_count += 1
            item_model.objects.bulk_create(
                [item_model(plan=plan, timepoint=tp, instrument=i) for tp, items in by_tp.items() for i in items]
            )
    return created_count
