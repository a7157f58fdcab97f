# Copy to instance/config.py for settings you would rather not keep in the environment.
# The environment wins over this file. Never commit instance/config.py.
#
# SECRET_KEY = "..."                       # generated into instance/secret_key by `make run`
# DATABASE_URL = "postgresql://decant:...@127.0.0.1/decant"
# REDIS_URL = "redis://127.0.0.1:6379/0"
# PUBLIC_BASE_URL = "https://crm.example.com"
# EMAIL_PROVIDER = "sendgrid"
# SENDGRID_API_KEY = "SG...."
# FROM_EMAIL = "Cellar Door Wines <news@example.com>"
