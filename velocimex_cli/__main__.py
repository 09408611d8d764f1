from velocimex_cli.main import main

main()
