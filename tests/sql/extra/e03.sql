-- UNION, DISTINCT, OFFSET, a WITH query used twice
with big as (select o_custkey, o_totalprice from orders where o_totalprice > 400000)
select distinct c_mktsegment as k from customer, big where c_custkey = o_custkey
union
select r_name from region
order by k
limit 5 offset 2;
