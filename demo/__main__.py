from demo.run import app

app()
