-- NOT IN, EXISTS with a non-equality condition, HAVING with a subquery
select o_orderpriority, count(*) as n
from orders
where o_custkey not in (select c_custkey from customer where c_acctbal < 0)
  and exists (select * from lineitem where l_orderkey = o_orderkey and l_quantity > 49)
group by o_orderpriority
having count(*) > (select count(*) / 100 from region)
order by n desc, o_orderpriority;
