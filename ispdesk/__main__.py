from ispdesk.cli import main

main()
