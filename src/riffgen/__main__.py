from riffgen.cli import main

raise SystemExit(main())
