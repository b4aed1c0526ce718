from smconsole.cli import main

raise SystemExit(main())
