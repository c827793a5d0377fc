"""Write the committed JSON Schema file: `python -m sharelm.schema_export`."""

import json
from pathlib import Path

from sharelm.schema import conversation_json_schema

SCHEMA_PATH = Path(__file__).parent / "data" / "conversation.schema.json"


def main() -> None:
    SCHEMA_PATH.write_text(json.dumps(conversation_json_schema(), indent=2) + "\n")
    print(SCHEMA_PATH)


if __name__ == "__main__":
    main()
