"""Public domain benchmarks: FinMTEB (English), ChemTEB and MTEB(Medical, v1).

Importing this package registers every task in :data:`domainteb.core.tasks.TASKS` with
``benchmark="finmteb"|"chemteb"|"mteb-medical"``; data are read on first use from a local
copy (``$DOMAINTEB_HF_DATA``), the local Hugging Face cache or the hub, and each task's
availability check explains why it cannot be loaded offline.
"""

from domainteb.domains.public.catalog import ALL_PUBLIC, CHEMTEB, FINMTEB, MTEB_MEDICAL, PublicTaskInfo
from domainteb.domains.public.register import build_public_task, register_public_tasks

register_public_tasks()

__all__ = ["ALL_PUBLIC", "CHEMTEB", "FINMTEB", "MTEB_MEDICAL", "PublicTaskInfo", "build_public_task", "register_public_tasks"]
