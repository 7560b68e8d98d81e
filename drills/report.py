"""What a drill found."""

from dataclasses import dataclass, field


@dataclass
class Report:
    drill: str
    findings: list = field(default_factory=list)  # what went wrong; empty when the drill passed
    stats: dict = field(default_factory=dict)

    @property
    def passed(self):
        return not self.findings

    def fail(self, finding):
        self.findings.append(finding)

    def check(self, condition, finding):
        if not condition:
            self.fail(finding)
        return condition

    def __str__(self):
        lines = [f"{self.drill}: {'PASSED' if self.passed else 'FAILED'}"]
        lines += [f"  {key}: {value}" for key, value in self.stats.items()]
        lines += [f"  ! {finding}" for finding in self.findings[:50]]
        if len(self.findings) > 50:
            lines.append(f"  ! ... and {len(self.findings) - 50} more")
        return "\n".join(lines)
