"""WhatsApp gateways: one adapter per kind behind the interface in `base`."""
