"""Every option of hubspot-gateway can also come from its HUBSPOT_GATEWAY_* variable (the
Deployment sets them from a ConfigMap)."""
import re
import subprocess

from gateway_fleet import gateway_binary


def test_every_option_in_help_is_read_from_the_environment_too():
    help_text = subprocess.run([gateway_binary(), "--help"], capture_output=True, text=True, timeout=30).stdout
    options = set(re.findall(r"^\s+--([a-z0-9-]+) <", help_text, re.M))
    assert len(options) > 40
    source = open(__file__.rsplit("/Tests/", 1)[0] + "/Sources/hubspot-gateway/HubSpotGatewayCommand.swift").read()
    listed = set(re.findall(r'"([a-z0-9-]+)"', re.search(r"static let optionNames = \[(.*?)\]", source, re.S).group(1)))
    assert sorted(options - listed) == [], "options that HUBSPOT_GATEWAY_* variables cannot set"


def test_an_option_from_the_environment_is_validated_like_a_flag():
    result = subprocess.run([gateway_binary(), "--sandbox"], capture_output=True, text=True, timeout=30,
                            env={"HUBSPOT_GATEWAY_EXPORT_SETTLE_SECONDS": "-5", "PATH": "/usr/bin:/bin"})
    assert result.returncode != 0 and "--export-settle-seconds must be 0 or more" in result.stderr
