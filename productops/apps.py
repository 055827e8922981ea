from django.apps import AppConfig


class ProductopsConfig(AppConfig):
    name = "productops"
    verbose_name = "Platform"
