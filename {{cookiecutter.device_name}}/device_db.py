{%- set name = cookiecutter.device_name -%}
# The {{ name }} controller's device_db entry: merge it into your ARTIQ
# device_db.py. artiq_ctlmgr on the machine named by "host" starts it,
# pings it and stops it; for a run without hardware, replace
# "-d console" with "--simulation".

device_db = {
    "{{ name }}": {
        "type": "controller",
        "host": "localhost",
        "port": {{ cookiecutter.default_port }},
        "command": "aqctl_{{ name }} -p {port} --bind {bind} "
                   "--no-localhost-bind -d console",
    },
}
