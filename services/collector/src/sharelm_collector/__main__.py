from sharelm_collector.cli import app

app(prog_name="sharelm-collector")
