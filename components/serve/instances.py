"""Instance sizes serve chooses among, and the power model that turns instance-hours into energy.

vCPU and memory are the EC2 specifications of the instance families SageMaker hosts (c6i, m5), as listed on
AWS's "Amazon EC2 instance types" page (read 2026); every name is checked against botocore's
ProductionVariantInstanceType and TransformInstanceType enums by the tests. Power is Cloud Carbon Footprint's
AWS coefficients (cloudcarbonfootprint.org, methodology, "Energy estimate (Watt-hours)"): 0.74 W per vCPU idle,
3.5 W per vCPU at full load, 0.392 W per GB of memory; the PUE is the ledger's (CCF's AWS average, 1.135).
"""

from __future__ import annotations

from dataclasses import dataclass

SOURCE = (
    "vCPU/memory: AWS 'Amazon EC2 instance types' (c6i, m5), 2026; power: Cloud Carbon Footprint AWS coefficients "
    "(0.74-3.5 W/vCPU, 0.392 W/GB), PUE 1.135"
)
MIN_W_PER_VCPU = 0.74
MAX_W_PER_VCPU = 3.5
W_PER_GB = 0.392


@dataclass(frozen=True)
class Instance:
    name: str
    vcpus: int
    memory_gb: float

    def watts(self, utilisation: float) -> float:
        """Average draw at a CPU utilisation in [0, 1] (CCF: min + utilisation x (max - min), plus memory)."""
        u = min(max(utilisation, 0.0), 1.0)
        return self.vcpus * (MIN_W_PER_VCPU + u * (MAX_W_PER_VCPU - MIN_W_PER_VCPU)) + self.memory_gb * W_PER_GB


# smallest first: serve takes the first that holds the model with headroom
INSTANCES = (
    Instance("ml.c6i.large", 2, 4.0),
    Instance("ml.m5.large", 2, 8.0),
    Instance("ml.c6i.xlarge", 4, 8.0),
    Instance("ml.m5.xlarge", 4, 16.0),
    Instance("ml.c6i.2xlarge", 8, 16.0),
    Instance("ml.m5.2xlarge", 8, 32.0),
)


def smallest_for(memory_mb: float) -> Instance:
    """The smallest instance whose memory holds the model 4 times over plus 1 GB for the server (an assumption)."""
    need_gb = (4 * memory_mb + 1024) / 1024
    for instance in INSTANCES:
        if instance.memory_gb >= need_gb:
            return instance
    from greenpipe.components.serve.errors import ServeError

    raise ServeError(
        f"the model needs about {need_gb:.1f} GB to serve, more than the largest instance in serve's table "
        f"({INSTANCES[-1].name}, {INSTANCES[-1].memory_gb:g} GB): compress it first or serve it yourself"
    )
