module jiangcheng.example/client

go 1.19
