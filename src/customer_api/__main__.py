from customer_api.cli import main

main()
