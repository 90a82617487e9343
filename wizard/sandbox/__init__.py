"""The offline sandbox: moto in server mode on 127.0.0.1, behind a front door the wizard owns."""
