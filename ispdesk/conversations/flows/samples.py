"""A small, valid flow document: the tests' reference flow and a starting point for demos."""

from __future__ import annotations

from typing import Any


def node(node_id: str, kind: str, text: str, **fields: Any) -> dict[str, Any]:
    """One node of a flow definition, with every field the editor saves."""
    return {
        "id": node_id,
        "type": kind,
        "text": text,
        "label": fields.get("label", ""),
        "option": fields.get("option"),
        "keywords": fields.get("keywords", []),
        "area_id": fields.get("area_id"),
        "children": fields.get("children", []),
    }


def sample_definition(support_area_id: int) -> dict[str, Any]:
    """A greeting menu: technical support (to `support_area_id`), opening hours, a plans
    sub-menu and goodbye."""

    return {
        "root": "inicio",
        "nodes": [
            node(
                "inicio",
                "menu",
                "¡Hola! Elegí una opción:",
                children=["tecnico", "horarios", "planes", "chau"],
            ),
            node(
                "tecnico",
                "redirect",
                "Te paso con Soporte.",
                label="Soporte técnico",
                option=1,
                keywords=["internet", "soporte"],
                area_id=support_area_id,
            ),
            node(
                "horarios",
                "message",
                "Atendemos de 8 a 20.",
                label="Horarios",
                option=2,
                keywords=["horario"],
            ),
            node(
                "planes",
                "menu",
                "¿Qué plan te interesa?",
                label="Planes",
                option=3,
                keywords=["planes"],
                children=["fibra", "radio"],
            ),
            node(
                "fibra",
                "message",
                "Fibra 300 MB: $20.000.",
                label="Fibra",
                option=1,
                children=["gracias"],
            ),
            node("gracias", "end", "¡Gracias por escribirnos!"),
            node("radio", "message", "Radio 20 MB: $12.000.", label="Radio", option=2),
            node("chau", "end", "¡Gracias!", label="Nada más", option=4, keywords=["chau"]),
        ],
    }
