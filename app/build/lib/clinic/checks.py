from django.conf import settings
from django.core.checks import Tags, Warning, register


@register(Tags.security, deploy=True)
def api_token_configured(app_configs, **kwargs):
    if not settings.API_TOKEN or len(settings.API_TOKEN) < 32:
        return [
            Warning(
                "API_TOKEN is empty or shorter than 32 characters: the JSON API would accept anyone.",
                hint="Set API_TOKEN in the env file to a long random string (ansible-vault in production).",
                id="clinic.W001",
            )
        ]
    return []
