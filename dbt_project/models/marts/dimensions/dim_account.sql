-- One row per CFR account code, with its name, the expenditure category
-- (code and words) the warehouse reports it under, and the dates it is valid.
with

account_codes as (

    select * from {{ ref('ref_account_codes') }}

),

categories as (

    select * from {{ ref('ref_expenditure_categories') }}

),

final as (

    select
        account_codes.account_code,
        account_codes.account_name,
        account_codes.benchmarking_name,
        account_codes.expenditure_category,
        categories.category_name as expenditure_category_name,
        categories.sort_order as category_sort_order,
        account_codes.valid_from,
        account_codes.valid_to

    from account_codes
    left join categories
        on account_codes.expenditure_category
        = categories.expenditure_category

)

select * from final
