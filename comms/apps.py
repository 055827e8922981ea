from django.apps import AppConfig


class CommsConfig(AppConfig):
    name = "comms"

    def ready(self) -> None:
        # The core sits below comms and knows no domain: comms registers its event consumer
        # (close the loop, webhooks), the renderer of digests (rendered once, by the sender,
        # before the first attempt) and the endpoint secrets webhooks are signed with; and
        # with the engine, the listener that turns a recompute's rank moves and threshold
        # crossings into events.
        from comms import digests, events, loop, mentions, webhooks
        from priority.services import recompute_listeners_register
        from productops.outbox.services import renderer_register
        from productops.outbox.transports import webhook_secrets_register
        from productops.services import event_consumers_register

        event_consumers_register(events.events_consume)
        renderer_register(digests.DIGEST_KIND, digests.digest_render, prefetch=digests.digest_prefetch)
        # Close-the-loop notices, summaries, announcements and immediate notices are made
        # in bulk without content and rendered once by the sender, as digests are.
        for kind, renderer in loop.RENDERERS.items():
            renderer_register(kind, renderer)
        renderer_register(mentions.MENTION_KIND, mentions.mention_render)
        webhook_secrets_register(webhooks.endpoint_secrets)
        recompute_listeners_register(webhooks.after_recompute)
